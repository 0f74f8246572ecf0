package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	smb2 "github.com/hirochachacha/go-smb2"
)

// Classify maps an error from a probe (socket, our own SMB code, or go-smb2)
// to a Class and, when the server sent one, its NT status.
//
// go-smb2 v1.1.0's error types (errors.go) do not implement Unwrap, so its
// TransportError and ContextError are taken apart by hand; errors.As still
// finds them at the top of a chain we wrapped with %w or inside the
// *os.PathError that ListSharenames returns.
func Classify(err error) (Class, NTStatus) {
	if err == nil {
		return ClassOK, 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Class, se.Status
	}
	var re *smb2.ResponseError
	if errors.As(err, &re) {
		st := NTStatus(re.Code)
		return classifyStatus(st), st
	}
	var te *smb2.TransportError
	if errors.As(err, &te) {
		return classifyNet(te.Err), 0
	}
	var ce *smb2.ContextError
	if errors.As(err, &ce) {
		if ce.Timeout() {
			return ClassTimeout, 0
		}
		return ClassError, 0
	}
	var ie *smb2.InvalidResponseError
	if errors.As(err, &ie) {
		return ClassProtocolError, 0
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		return ClassProtocolError, 0
	}
	if errors.Is(err, os.ErrPermission) {
		// go-smb2 accept() turns STATUS_ACCESS_DENIED into a bare
		// os.ErrPermission; callers recover the status from the tap.
		return ClassAccessDenied, StatusAccessDenied
	}
	var ie2 *smb2.InternalError
	if errors.As(err, &ie2) {
		return ClassError, 0
	}
	return classifyNet(err), 0
}

// classifyNet classifies transport errors: errno first (the kernel's word is
// the most precise), then timeouts, then EOF.
func classifyNet(err error) Class {
	if err == nil {
		return ClassOK
	}
	var fe *FrameError
	if errors.As(err, &fe) {
		return ClassProtocolError
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNREFUSED:
			return ClassRefused
		case syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.ENETDOWN:
			return ClassUnreachable
		case syscall.ETIMEDOUT:
			return ClassTimeout
		case syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED:
			return ClassReset
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return ClassClosed
	}
	return ClassError
}

// classifyStatus is the generic NT status → class map; steps refine it
// (a tree connect's ACCESS_DENIED on IPC$ is ipc-unavailable, on a share
// share-denied).
func classifyStatus(st NTStatus) Class {
	switch st {
	case StatusSuccess:
		return ClassOK
	case StatusBadNetworkName:
		return ClassShareMissing
	case StatusObjectNameNotFound, StatusObjectPathNotFound:
		return ClassFileMissing
	case StatusIOTimeout:
		return ClassTimeout
	case StatusConnectionRefused, StatusConnectionDisconnected:
		return ClassRPCEndpointMissing
	}
	return classifyAuthStatus(st)
}

// StatusError is an error carrying the server's NT status and our class, for
// failures found by our own SMB code.
type StatusError struct {
	Op     string
	Class  Class
	Status NTStatus
}

func (e *StatusError) Error() string {
	if e.Status != 0 {
		return e.Op + ": " + e.Status.Name() + " (" + e.Status.Hex() + ")"
	}
	return e.Op + ": " + string(e.Class)
}

// stepFromErr fills a Step from an error.
func stepFromErr(s *Step, err error) {
	c, st := Classify(err)
	s.Class = c
	s.setStatus(st)
	if err != nil {
		s.Error = err.Error()
	}
}
