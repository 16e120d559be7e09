module example.invalid/libastra/examples/go

go 1.23

require example.invalid/libastra/bindings/go/astra v0.0.0

replace example.invalid/libastra/bindings/go/astra => ../../bindings/go
