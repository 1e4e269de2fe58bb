package session

import "github.com/flowaudit/flowaudit/internal/inputfile"

// MaxFileSize is the default bound on a session file. A day of a busy
// gateway is about a million flows, and a session holds about 380 bytes
// per flow (measured: 15.1 MB for 40,003 flows of the bench capture), so
// 1 GiB holds nearly three such days. Loading costs about 450 bytes of
// memory per flow on top of the file's share (docs/session.md).
const MaxFileSize = 1 << 30

// ErrTooLarge is wrapped by the error for a session file larger than the
// limit it was loaded with.
var ErrTooLarge = inputfile.ErrTooLarge

// ErrNotRegular is wrapped by the error for a session path that is not a
// regular file: a directory, a device (/dev/zero never ends), a named
// pipe (a read could wait forever) or a socket.
var ErrNotRegular = inputfile.ErrNotRegular
