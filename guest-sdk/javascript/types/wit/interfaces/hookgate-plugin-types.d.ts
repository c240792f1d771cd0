/** @module Interface hookgate:plugin/types@0.2.0 **/
/**
 * One HTTP header. Names are compared case-insensitively by the gateway;
 * a name may occur more than once, in order.
 */
export interface Header {
  /**
   * The header name as received, for example `content-type`.
   */
  name: string,
  /**
   * The header value. Values that are not valid UTF-8 are passed
   * lossily converted.
   */
  value: string,
}
/**
 * An event as the plugin sees it.
 */
export interface Event {
  /**
   * The gateway's id of the message, stable across retries and replays
   * (`msg_...`). Use it as an idempotency key in anything you derive.
   */
  id: string,
  /**
   * The name of the source the event was posted to, as configured.
   */
  source: string,
  /**
   * The event type, taken from the payload or a header as the source's
   * configuration says (for example `call.completed`). Empty when the
   * source has no event-type rule and a previous plugin set none.
   */
  eventType: string,
  /**
   * When the gateway durably accepted the event, in milliseconds since
   * the Unix epoch (UTC).
   */
  receivedAt: bigint,
  /**
   * The request headers, in the order received, repeated names kept.
   */
  headers: Array<Header>,
  /**
   * The raw request body.
   */
  body: Uint8Array,
}
/**
 * The parts of an event a plugin may rewrite when it lets the event
 * continue. A field left as `none` keeps its current value, so a plugin
 * that changes nothing returns `continue` with every field `none`.
 */
export interface Rewrite {
  /**
   * A new event type.
   */
  eventType?: string,
  /**
   * A new complete header list, replacing the current one.
   */
  headers?: Array<Header>,
  /**
   * A new body.
   */
  body?: Uint8Array,
}
/**
 * One delivery chosen by a plugin.
 */
export interface Target {
  /**
   * The name of a configured endpoint. Naming an endpoint that does not
   * exist is an invalid result and fails the event.
   */
  endpoint: string,
  /**
   * The body to send to this endpoint; `none` sends the event's body.
   */
  body?: Uint8Array,
  /**
   * Extra headers for this delivery. They cannot replace the headers
   * the gateway signs with (`webhook-id`, `webhook-timestamp`,
   * `webhook-signature`, or an endpoint's configured signature header).
   */
  headers: Array<Header>,
}
/**
 * An answer to the caller of a synchronous source.
 */
export interface Response {
  /**
   * The HTTP status, 200 to 599.
   */
  status: number,
  /**
   * Response headers; the gateway adds `content-type:
   * application/json` when none is given.
   */
  headers: Array<Header>,
  /**
   * The response body.
   */
  body: Uint8Array,
}
/**
 * What the gateway should do with the event.
 */
export type Action = ActionDrop | ActionContinue | ActionDeliver | ActionRespond;
/**
 * Stop here and deliver nothing. The reason is recorded with the
 * message and shown in its history.
 */
export interface ActionDrop {
  tag: 'drop',
  val: string,
}
/**
 * Pass the (possibly rewritten) event to the next plugin of the
 * chain, or, after the last plugin, to the endpoints subscribed to
 * its event type.
 */
export interface ActionContinue {
  tag: 'continue',
  val: Rewrite,
}
/**
 * Deliver to exactly these endpoints and end the chain. An empty list
 * delivers nowhere (like `drop`, without a reason).
 */
export interface ActionDeliver {
  tag: 'deliver',
  val: Array<Target>,
}
/**
 * Answer the caller with this response and end the chain, delivering
 * nothing. On a synchronous source (`mode = "sync"`) the caller gets
 * it as the answer to its request; on an asynchronous source, whose
 * caller was answered `202` when the event was stored, the response
 * is recorded with the message and goes nowhere else.
 */
export interface ActionRespond {
  tag: 'respond',
  val: Response,
}
/**
 * An error the plugin reports on purpose. The event fails and goes to
 * the dead letter with this error; it is not retried, since the same
 * input would fail the same way.
 */
export type PluginError = PluginErrorInvalidEvent | PluginErrorInvalidConfig | PluginErrorFailed;
/**
 * The event does not have the shape the plugin needs. The message
 * should name the field, for example `data.egress_info.duration is
 * missing`.
 */
export interface PluginErrorInvalidEvent {
  tag: 'invalid-event',
  val: string,
}
/**
 * The plugin's configuration is missing a key or has a bad value.
 */
export interface PluginErrorInvalidConfig {
  tag: 'invalid-config',
  val: string,
}
/**
 * Any other failure the plugin wants to report.
 */
export interface PluginErrorFailed {
  tag: 'failed',
  val: string,
}
