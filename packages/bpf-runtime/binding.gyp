{
  "targets": [
    {
      "target_name": "retina_bpf",
      "sources": [
        "native/addon.cc",
        "native/object.cc",
        "native/program.cc",
        "native/map.cc",
        "native/btf.cc",
        "native/link.cc",
        "native/reader.cc",
        "native/socket.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
