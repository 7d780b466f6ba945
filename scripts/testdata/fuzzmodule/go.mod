module fuzzmodule

go 1.26
