module example.invalid/libastra/bindings/go/astra

go 1.23
