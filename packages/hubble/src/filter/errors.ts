/**
 * Why a FlowFilter cannot be built: the request is wrong (`invalid`), uses what this server lacks (`unimplemented`),
 * or is larger than the server accepts in total (`exhausted`).
 */
export class FilterError extends Error {
  readonly kind: FilterErrorKind;

  constructor(message: string, kind: FilterErrorKind = 'invalid') {
    super(message);
    this.name = 'FilterError';
    this.kind = kind;
  }
}

/** How a refused request is answered: INVALID_ARGUMENT, UNIMPLEMENTED or RESOURCE_EXHAUSTED. */
export type FilterErrorKind = 'invalid' | 'unimplemented' | 'exhausted';
