/** @module Interface hookgate:plugin/endpoints@0.2.0 **/
/**
 * Every configured endpoint, sorted by name.
 */
export function all(): Array<Endpoint>;
/**
 * A configured endpoint, without its URL or secrets.
 */
export interface Endpoint {
  /**
   * The endpoint's unique name; what a `target` refers to.
   */
  name: string,
  /**
   * The event types it subscribes to; may contain wildcards such as
   * `call.*` or `*`.
   */
  eventTypes: Array<string>,
  /**
   * Free-form tags set by the operator, for example `team:billing`.
   */
  tags: Array<string>,
}
