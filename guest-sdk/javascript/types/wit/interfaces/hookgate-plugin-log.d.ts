/** @module Interface hookgate:plugin/log@0.2.0 **/
/**
 * Writes one line to the log at the given level.
 */
export function log(level: Level, message: string): void;
/**
 * Records the message of a panic just before the plugin traps, so the
 * gateway can report it. The guest SDK's panic hook calls this; plugin
 * code has no reason to.
 */
export function reportPanic(message: string): void;
/**
 * Severity of a log line.
 * # Variants
 * 
 * ## `"trace"`
 * 
 * Very detailed tracing.
 * ## `"debug"`
 * 
 * Details useful while developing a plugin.
 * ## `"info"`
 * 
 * Normal operation.
 * ## `"warn"`
 * 
 * Something unexpected that the plugin handled.
 * ## `"error"`
 * 
 * Something failed.
 */
export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
