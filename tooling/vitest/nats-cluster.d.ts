export interface NatsCluster {
  /** nats://127.0.0.1:PORT of each server. */
  urls: string[];
  /** The temp directory holding configs, stores and logs (n1.log ...). */
  dir: string;
  pid(i: number): number | undefined;
  running(i: number): boolean;
  /** Stops server i (SIGTERM by default; SIGKILL after 5 s). */
  stop(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts servers again with their ports and stores; resolves when they are up and (given a majority) a meta leader exists. */
  start(...indices: number[]): Promise<void>;
  /** Stops every server at once. */
  stopAll(): Promise<void>;
  /** Stops every server and removes the temp directory. */
  close(): Promise<void>;
}

export function natsServerPath(): string | undefined;
/** Why a cluster cannot be started here, or undefined when it can. */
export function natsMissing(): string | undefined;
/** nkeys: public keys (U...) of users allowed in beside user/pass. */
export function startNatsCluster(options?: { nodes?: number; user?: string; pass?: string; nkeys?: string[] }): Promise<NatsCluster>;
