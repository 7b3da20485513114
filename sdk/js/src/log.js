/** Leveled log lines, attached to the request that wrote them. */
import { host } from './sys.js';

/** Write one line at `level` (`trace`, `debug`, `info`, `warn`, `error`). */
export function write(level, message) {
  host().log.write(level, String(message));
}
/** A trace line. */
export const trace = (m) => write('trace', m);
/** A debug line. */
export const debug = (m) => write('debug', m);
/** An info line. */
export const info = (m) => write('info', m);
/** A warning. */
export const warn = (m) => write('warn', m);
/** An error line. */
export const error = (m) => write('error', m);
