/** Starting an informer the way every controller here needs it: restarted after errors, queueing on every change. */
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import type { Logger } from '@retina-ts/core';

/** A started informer: its cache and a way to stop it. */
export interface StartedInformer<T> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  stop(): Promise<void>;
}

/**
 * Subscribes `onChange` to add/update/delete, restarts the informer `restartMs` after an error, starts it, and
 * once the first list is in, hands every listed object to `onStartQueue` (default: `onChange` each).
 */
export async function watchInformer<T extends KubernetesObject>(
  inf: Informer<T> & ObjectCache<T>,
  o: { name: string; logger: Logger; restartMs: number; onChange: (obj: T) => void; onStartQueue?: (all: readonly T[]) => void },
): Promise<StartedInformer<T>> {
  let stopped = false;
  let started = false;
  inf.on('add', (x) => started && o.onChange(x));
  inf.on('update', (x) => started && o.onChange(x));
  inf.on('delete', (x) => started && o.onChange(x));
  const restart = () => {
    setTimeout(() => {
      // A re-list reports what changed meanwhile as add/update/delete; a refused watch tries again later.
      if (!stopped) inf.start().catch(() => restart());
    }, o.restartMs);
  };
  inf.on('error', (err: unknown) => {
    if (stopped) return;
    o.logger.warn({ informer: o.name, error: (err as Error)?.message ?? String(err) }, 'watch failed; restarting');
    restart();
  });
  await inf.start();
  started = true;
  const all = inf.list();
  if (o.onStartQueue) o.onStartQueue(all);
  else for (const x of all) o.onChange(x);
  return {
    list: () => inf.list(),
    get: (name, namespace) => inf.get(name, namespace),
    stop: async () => {
      stopped = true;
      await inf.stop();
    },
  };
}
