export { startServer, type RunningServer, type ServeOptions } from './server/server.js';
export type { FleetOptions } from './server/fleet.js';
export { loadRecordConfig, RecordConfig } from './server/recorder.js';
export { DEFAULT_LIMITS, type SocketLimits } from './server/socket.js';
export * from './protocol.js';
