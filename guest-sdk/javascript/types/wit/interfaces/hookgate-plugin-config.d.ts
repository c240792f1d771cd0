/** @module Interface hookgate:plugin/config@0.2.0 **/
/**
 * The value of one key, or `none` if it is not set.
 */
export function get(key: string): string | undefined;
/**
 * Every key and value, sorted by key.
 */
export function entries(): Array<[string, string]>;
