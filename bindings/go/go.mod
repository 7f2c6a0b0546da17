module github.com/libexectrace/libexectrace/bindings/go

go 1.21
