// What building the native addon needs from the system, checked before node-gyp runs so that a missing Debian
// package is named instead of surfacing as a compiler error. Pure functions; install.mjs supplies the system.

/** Headers the addon includes, with the Debian package that provides each. */
export const REQUIRED_HEADERS = [
  { header: 'bpf/libbpf.h', pkg: 'libbpf-dev' },
  { header: 'libelf.h', pkg: 'libelf-dev' },
  { header: 'zlib.h', pkg: 'zlib1g-dev' },
];

/** Commands node-gyp runs, with their Debian packages. */
export const REQUIRED_TOOLS = [
  { cmd: 'make', pkg: 'make' },
  { cmd: 'g++', pkg: 'g++' },
  { cmd: 'python3', pkg: 'python3' },
];

/** Header search directories: the system ones and those in a CPATH-style list. */
export function includeDirs(cpath = '') {
  return ['/usr/include', '/usr/local/include', ...cpath.split(':').filter(Boolean)];
}

/**
 * The headers and tools that are missing. `exists(path)` and `hasCommand(name)` ask the system; `dirs` are the
 * header search directories.
 */
export function findMissing({ dirs, exists, hasCommand }) {
  return {
    headers: REQUIRED_HEADERS.filter(({ header }) => !dirs.some((dir) => exists(`${dir}/${header}`))),
    tools: REQUIRED_TOOLS.filter(({ cmd }) => !hasCommand(cmd)),
  };
}

/** The message for what is missing (naming the Debian packages to install), or undefined when nothing is. */
export function missingMessage({ headers, tools }) {
  if (headers.length === 0 && tools.length === 0) return undefined;
  const what = [...headers.map((h) => h.header), ...tools.map((t) => t.cmd)].join(', ');
  const pkgs = [...headers, ...tools].map((m) => m.pkg).join(' ');
  return (
    `@retina-ts/bpf-runtime: cannot build the native addon: ${what} not found.\n` +
    `Install the Debian packages: apt-get install -y ${pkgs}`
  );
}
