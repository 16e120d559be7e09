package astra

import (
	"fmt"

	"example.invalid/libastra/bindings/go/astra/internal/capi"
)

// Code is a libastra status (astra_error_code): 0 or negative.
type Code int

// Status codes (include/astra/common.h). Values are append-only.
const (
	CodeOK           Code = 0
	CodeError        Code = -1
	CodeNotSupported Code = -2
	CodeNotFound     Code = -3
	CodeExists       Code = -4
	CodeInvalid      Code = -5
	CodeNoMemory     Code = -6
	CodeIO           Code = -7
	CodeNetwork      Code = -8
	CodeAuth         Code = -9
	CodeCertificate  Code = -10
	CodeParse        Code = -11
	CodePolicy       Code = -12
	CodeCancelled    Code = -13
	CodeCorrupt      Code = -14
	CodeVersion      Code = -15
	CodeNoSpace      Code = -16
	CodeConflict     Code = -17
	CodeTimeout      Code = -18
	CodePartial      Code = -19
	CodeBusy         Code = -20
	CodeUser         Code = -30
)

var codeNames = map[Code]string{
	CodeOK: "OK", CodeError: "ERROR", CodeNotSupported: "ENOTSUPPORTED",
	CodeNotFound: "ENOTFOUND", CodeExists: "EEXISTS", CodeInvalid: "EINVALID",
	CodeNoMemory: "ENOMEM", CodeIO: "EIO", CodeNetwork: "ENET",
	CodeAuth: "EAUTH", CodeCertificate: "ECERTIFICATE", CodeParse: "EPARSE",
	CodePolicy: "EPOLICY", CodeCancelled: "ECANCELLED",
	CodeCorrupt: "ECORRUPT", CodeVersion: "EVERSION", CodeNoSpace: "ENOSPACE",
	CodeConflict: "ECONFLICT", CodeTimeout: "ETIMEOUT",
	CodePartial: "EPARTIAL", CodeBusy: "EBUSY", CodeUser: "EUSER",
}

// String returns the status name, e.g. "EAUTH".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("E%d", int(c))
}

// Class is the subsystem that produced an error (astra_error_class).
type Class int

// Error classes.
const (
	ClassNone     Class = 0
	ClassNoMemory Class = 1
	ClassOS       Class = 2
	ClassInvalid  Class = 3
	ClassNet      Class = 4
	ClassTLS      Class = 5
	ClassHTTP     Class = 6
	ClassJSON     Class = 7
	ClassYAML     Class = 8
	ClassCrypto   Class = 9
	ClassStore    Class = 10
	ClassRepo     Class = 11
	ClassKube     Class = 12
	ClassPolicy   Class = 13
	ClassCallback Class = 14
	ClassCompress Class = 15
	ClassConfig   Class = 16
)

// Error is a failed libastra call.
type Error struct {
	Code    Code   // the negative status
	Class   Class  // the subsystem
	Message string // libastra's message
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "astra: " + e.Code.String()
	}
	return "astra: " + e.Message
}

// Is reports whether target is an *Error with the same Code, so that
// errors.Is(err, astra.ErrAuth) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is; only their Code is compared.
var (
	ErrGeneric      = &Error{Code: CodeError}
	ErrNotSupported = &Error{Code: CodeNotSupported}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrExists       = &Error{Code: CodeExists}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrNoMemory     = &Error{Code: CodeNoMemory}
	ErrIO           = &Error{Code: CodeIO}
	ErrNetwork      = &Error{Code: CodeNetwork}
	ErrAuth         = &Error{Code: CodeAuth}
	ErrCertificate  = &Error{Code: CodeCertificate}
	ErrParse        = &Error{Code: CodeParse}
	ErrPolicy       = &Error{Code: CodePolicy}
	ErrCancelled    = &Error{Code: CodeCancelled}
	ErrCorrupt      = &Error{Code: CodeCorrupt}
	ErrVersion      = &Error{Code: CodeVersion}
	ErrNoSpace      = &Error{Code: CodeNoSpace}
	ErrConflict     = &Error{Code: CodeConflict}
	ErrTimeout      = &Error{Code: CodeTimeout}
	ErrPartial      = &Error{Code: CodePartial}
	ErrBusy         = &Error{Code: CodeBusy}
)

// ErrClosed is returned by calls on a closed Vault, Cluster or Cancel.
var ErrClosed = &Error{Code: CodeInvalid, Class: ClassInvalid, Message: "use of a closed handle"}

// StrError returns libastra's static description of a status code.
func StrError(c Code) string { return capi.Astra_strerror(int(c)) }

// check turns a status into an error. Call it on the locked thread that
// made the call (see locked).
func check(status int) error {
	if status >= 0 {
		return nil
	}
	return lastError(status)
}

func lastError(status int) *Error {
	e := capi.Astra_error_last()
	klass := Class(0)
	if e.GetCode() == status {
		klass = Class(e.GetKlass())
	}
	return &Error{Code: Code(status), Class: klass, Message: e.GetMessage()}
}

// ctorError is the error after an options constructor returned NULL.
func ctorError(what string) error {
	e := capi.Astra_error_last()
	if c := e.GetCode(); c < 0 {
		return &Error{Code: Code(c), Class: Class(e.GetKlass()), Message: e.GetMessage()}
	}
	return &Error{Code: CodeNoMemory, Class: ClassNoMemory, Message: "out of memory creating " + what}
}
