/** Why a FlowFilter cannot be built: the request is wrong (`invalid`) or uses what this server lacks (`unimplemented`). */
export class FilterError extends Error {
  readonly kind: 'invalid' | 'unimplemented';

  constructor(message: string, kind: 'invalid' | 'unimplemented' = 'invalid') {
    super(message);
    this.name = 'FilterError';
    this.kind = kind;
  }
}
