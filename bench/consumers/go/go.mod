module exectrace-bench-consumer

go 1.21

require github.com/libexectrace/libexectrace/bindings/go v0.0.0

replace github.com/libexectrace/libexectrace/bindings/go => ../../../bindings/go
