/**
 * The enriched flow stream: every batch from the FlowBus passes the Enricher once, then reaches each consumer
 * (advanced metrics, the Hubble API). Consumers see the same enriched records, so they never disagree.
 */
import type { Enricher, Flow, FlowBus, Logger } from '@retina-ts/core';

/** A consumer of enriched flow batches. */
export type FlowConsumer = (flows: readonly Flow[]) => void;

/** Fans enriched batches out to consumers; shaped like the FlowBus's subscribe so it can stand in for it. */
export class EnrichedFlows {
  readonly #consumers = new Set<FlowConsumer>();
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: FlowBus,
    private readonly enricher: Enricher,
    private readonly logger: Logger,
  ) {}

  /** Flows the bus dropped because it was full (Hubble reports them as lost events). */
  get dropped(): number {
    return this.bus.dropped;
  }

  /** Adds a consumer; returns the function that removes it. The bus is only subscribed while someone listens. */
  subscribe(fn: FlowConsumer): () => void {
    this.#consumers.add(fn);
    this.#unsubscribe ??= this.bus.subscribe((batch) => this.#deliver(batch));
    return () => {
      this.#consumers.delete(fn);
      if (this.#consumers.size === 0) {
        this.#unsubscribe?.();
        this.#unsubscribe = undefined;
      }
    };
  }

  #deliver(batch: readonly Flow[]): void {
    const enriched = batch.map((f) => this.enricher.enrich(f));
    for (const fn of this.#consumers) {
      try {
        fn(enriched);
      } catch (err) {
        this.logger.error({ err: (err as Error).message }, 'flow consumer threw; the others still received the batch');
      }
    }
  }
}
