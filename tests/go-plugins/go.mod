// The hostile Go plugins the integration suite runs; each folder is one
// plugin, built by tests/build.rs.
module hookgate-test-plugins

go 1.24

require github.com/hookgate/hookgate/guest-sdk/go v0.0.0

replace github.com/hookgate/hookgate/guest-sdk/go => ../../guest-sdk/go
