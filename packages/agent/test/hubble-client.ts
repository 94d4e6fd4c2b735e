/** A Hubble Observer client for the agent's tests, built from the recorded official Hubble API. */
import * as grpc from '@grpc/grpc-js';
// The official Hubble API as recorded beside the Hubble package: clients speak its wire format, not ours.
import { recordPackageDefinition } from '../../hubble/api-record/record.mjs';

/** A decoded message (fields as proto-loader gives them with `keepCase`, enums as strings). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Message = Record<string, any>;

/** The Observer methods the tests call. */
export type Observer = grpc.Client & {
  ServerStatus(req: object, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void): void;
  GetFlows(req: object): grpc.ClientReadableStream<Message>;
};

/** An Observer client for `address` (`unix://...` or `host:port`). */
export function observerClient(address: string): Observer {
  const def = recordPackageDefinition({
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    observer: { Observer: new (addr: string, creds: grpc.ChannelCredentials) => Observer };
  };
  return new pkg.observer.Observer(address, grpc.credentials.createInsecure());
}
