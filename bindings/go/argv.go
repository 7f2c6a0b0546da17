package exectrace

import "strings"

// The argv limits of the original Go package, kept by default (see
// TracerOpts.FullArgv).
const (
	// compatMaxArgs is the number of arguments kept.
	compatMaxArgs = 32
	// compatArgCut: an argument of this many bytes or more is cut ...
	compatArgCut = 1023
	// ... to this many bytes, followed by compatEllipsis.
	compatArgKeep  = 1021
	compatEllipsis = "..."
)

// splitArgv returns the first count NUL-terminated strings of block. A last
// string without its NUL is kept as it is.
func splitArgv(block string, count int) []string {
	if count <= 0 || block == "" {
		return []string{}
	}
	return appendArgv(make([]string, 0, count), block, count)
}

// appendArgv appends the first count NUL-terminated strings of block to
// args (see splitArgv).
func appendArgv(args []string, block string, count int) []string {
	for n := 0; n < count && block != ""; n++ {
		i := strings.IndexByte(block, 0)
		if i < 0 {
			return append(args, block)
		}
		args = append(args, block[:i])
		block = block[i+1:]
	}
	return args
}

// compatArgv applies the original package's limits to args, of which the
// process had argc in total: at most compatMaxArgs arguments, each of
// compatArgCut bytes or more cut to compatArgKeep bytes plus "...". It
// reports whether either limit was hit. args may be modified in place.
func compatArgv(args []string, argc int) ([]string, bool) {
	truncated := false
	if argc > compatMaxArgs || len(args) > compatMaxArgs {
		truncated = true
	}
	if len(args) > compatMaxArgs {
		args = args[:compatMaxArgs:compatMaxArgs]
	}
	for i, a := range args {
		if len(a) >= compatArgCut {
			args[i] = a[:compatArgKeep] + compatEllipsis
			truncated = true
		}
	}
	return args, truncated
}
