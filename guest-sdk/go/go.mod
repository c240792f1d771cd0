module github.com/hookgate/hookgate/guest-sdk/go

go 1.24
