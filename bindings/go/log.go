package astra

import "example.invalid/libastra/bindings/go/astra/internal/capi"

// LogLevel is a libastra log level.
type LogLevel int

// Log levels.
const (
	LogNone  LogLevel = 0
	LogError LogLevel = 1
	LogWarn  LogLevel = 2
	LogInfo  LogLevel = 3
	LogDebug LogLevel = 4
	LogTrace LogLevel = 5
)

// SetLogHandler sets the process-wide log handler and the most verbose
// level passed to it; nil discards messages. The handler may be called
// from any of libastra's threads, concurrently: it must be safe for
// concurrent use. A panic in it is recovered and ignored.
func SetLogHandler(fn func(level LogLevel, message string), max LogLevel) {
	if fn == nil {
		capi.SetLogFunc(nil, 0)
		return
	}
	capi.SetLogFunc(func(level int, message string) {
		fn(LogLevel(level), message)
	}, int(max))
}
