// SIGKILL of the agent with packetforward on three interfaces of a throwaway namespace, in tcx and in clsact mode:
// what stays in the kernel after the kill, and after `retina-bpf cleanup`.
import { RETINA_BPF, hasClsact, programsHeldBy, sh, sleep, stillInKernel, tcFilters } from '../lib.mjs';

const INTERFACES = ['chA', 'chB', 'chC'];

function probe(mode) {
  return {
    name: `sigkill-${mode}`,
    expected:
      mode === 'tcx'
        ? 'after SIGKILL: 0 programs, 0 links, 0 filters left'
        : 'after SIGKILL: 6 filters + 3 clsact qdiscs left; after retina-bpf cleanup: 0 filters, 0 qdiscs, 0 programs',
    async run(ctx) {
      const ns = ctx.netns('rch');
      ns.ip(['link', 'add', INTERFACES[0], 'type', 'veth', 'peer', 'name', INTERFACES[1]]);
      ns.ip(['link', 'add', INTERFACES[2], 'type', 'veth', 'peer', 'name', 'chD']);
      for (const dev of [...INTERFACES, 'chD']) ns.ip(['link', 'set', dev, 'up']);
      const config = ctx.config([
        'apiServer: { host: 127.0.0.1, port: 0 }',
        'enabledPlugin: [packetforward]',
        `enableTCX: "${mode === 'tcx' ? 'auto' : 'off'}"`,
        'plugins:',
        `  packetforward: { interfaces: [${INTERFACES.join(', ')}] }`,
      ]);
      const agent = await ctx.startAgent(['--config', config], {
        netns: ns.name,
        ready: (logs) => logs.some((r) => r.msg === 'packetforward attached'),
      });
      const programs = programsHeldBy(agent.child.pid);
      agent.child.kill('SIGKILL');
      await agent.exited;
      await sleep(200); // the kernel frees fd-owned attachments after an RCU grace period
      const count = () => {
        const filters = INTERFACES.flatMap((dev) => tcFilters(ns.name, dev)).length;
        const qdiscs = INTERFACES.filter((dev) => hasClsact(ns.name, dev)).length;
        const k = stillInKernel(programs);
        return { filters, qdiscs, programs: k.programs.length, links: k.links.length };
      };
      const after = count();
      let observed = `after SIGKILL: ${after.programs} programs, ${after.links} links, ${after.filters} filters, ${after.qdiscs} qdiscs left`;
      if (mode === 'tcx') {
        return { observed, ok: after.programs + after.links + after.filters === 0 };
      }
      sh(process.execPath, [RETINA_BPF, 'cleanup', '--netns', ns.path]);
      await sleep(200);
      const cleaned = count();
      observed += `; after retina-bpf cleanup: ${cleaned.filters} filters, ${cleaned.qdiscs} qdiscs, ${cleaned.programs} programs`;
      return {
        observed,
        ok:
          after.filters === 6 &&
          after.qdiscs === 3 &&
          cleaned.filters + cleaned.qdiscs + cleaned.programs === 0,
      };
    },
  };
}

export default [probe('tcx'), probe('clsact')];
