export interface NatsCluster {
  /** nats://127.0.0.1:PORT of each server. */
  urls: string[];
  /** The temp directory holding configs, stores and logs (n1.log ...). */
  dir: string;
  pid(i: number): number | undefined;
  running(i: number): boolean;
  /** Stops server i (SIGTERM by default; SIGKILL after 5 s). */
  stop(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts server i again with its port and store; resolves when it is healthy and a meta leader exists. */
  start(i: number): Promise<void>;
  /** Stops every server and removes the temp directory. */
  close(): Promise<void>;
}

export function natsServerPath(): string | undefined;
/** Why a cluster cannot be started here, or undefined when it can. */
export function natsMissing(): string | undefined;
export function startNatsCluster(options?: { nodes?: number; user?: string; pass?: string }): Promise<NatsCluster>;
