// Where the SDK's host calls go: the gateway's imports inside a component
// (component.js installs them), or the in-process test host natively
// (testing.js). Not public API.

const outside = {
  log(level, message) {
    console.error(`[${level}] ${message}`);
  },
  configGet() {
    return undefined;
  },
  configEntries() {
    return [];
  },
  endpoints() {
    return [];
  },
};

let current = outside;

/** The backend in use. */
export function backend() {
  return current;
}

/** Installs a backend and returns the one it replaced. */
export function install(next) {
  const previous = current;
  current = next ?? outside;
  return previous;
}
