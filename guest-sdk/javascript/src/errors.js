// The errors a plugin throws on purpose. Each is recorded with the event,
// which goes to the dead letter; none is retried, since the same input would
// fail the same way. Any other exception is a bug: it reaches the gateway as
// a `panic` with its message and stack.

/** A failure the plugin detected and reports on purpose. */
export class PluginError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }

  /** The WIT `plugin-error` case: `invalid-event`, `invalid-config` or `failed`. */
  get kind() {
    return "failed";
  }
}

/** The event lacks something the plugin needs; the message names the field. */
export class InvalidEvent extends PluginError {
  get kind() {
    return "invalid-event";
  }
}

/** The plugin's configuration is missing a key or has a bad value. */
export class InvalidConfig extends PluginError {
  get kind() {
    return "invalid-config";
  }
}

/** Any other failure the plugin reports. */
export class Failed extends PluginError {}
