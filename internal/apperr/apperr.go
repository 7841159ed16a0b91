// Package apperr is the one error type of the service: every failure that a
// caller must see carries a Code, and the HTTP layer maps codes to statuses in
// a single place.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error so that fronts (HTTP, CLI) can answer consistently.
type Code int

// The codes a request can fail with.
const (
	Internal         Code = iota // a bug or an unexpected failure
	BadRequest                   // malformed JSON or wrong shape
	InvalidConfig                // a destination config that breaks docs/BEHAVIOUR.md §2.2
	NotFound                     // an unknown destination id or route
	TooLarge                     // body or batch over its limit
	Unsupported                  // wrong content type
	Unauthorized                 // missing or wrong token
	Unavailable                  // draining or overloaded
	MethodNotAllowed             // a route that exists, with another method
	BadGateway                   // sidecar: the upstream refused the connection or failed
	GatewayTimeout               // sidecar: the upstream did not answer in time
)

var codeNames = [...]string{"internal", "bad_request", "invalid_config", "not_found", "too_large", "unsupported_media_type", "unauthorized", "unavailable", "method_not_allowed", "bad_gateway", "gateway_timeout"}

// String names the code, for logs and metrics.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is a failure with a code and a sentence a person can act on.
type Error struct {
	Code    Code
	Message string
	Err     error  // optional cause
	Log     string // what logs show instead of Message, when Message quotes caller input; "" means Message
}

// Error returns the message, so the sentence reaches users unchanged.
func (e *Error) Error() string { return e.Message }

// Unwrap exposes the cause for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// New builds an Error from a code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Redacted builds an Error whose message may quote what the caller sent (an
// id it named, a path) while logs show logged, so that caller-supplied text
// (an email typed as a destination id) never reaches a log line.
func Redacted(code Code, logged, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Log: logged}
}

// LogText is the text of err fit for a log line: the Log of an Error that
// has one, else the message.
func LogText(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Log != "" {
		return e.Log
	}
	return err.Error()
}

// CodeOf reports the code of err, Internal when err carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}
