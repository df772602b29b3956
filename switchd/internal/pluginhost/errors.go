package pluginhost

import (
	"errors"
	"fmt"
)

// Errors of launching a plugin.
var (
	// ErrNotPinned is returned when a plugin has no sha256 digest pinned; the
	// host refuses to start it (fail closed).
	ErrNotPinned = errors.New("pluginhost: plugin binary has no pinned sha256 digest")
	// ErrDigestMismatch is matched by a *DigestError: the plugin binary's
	// sha256 differs from the pinned one, so it was not started.
	ErrDigestMismatch = errors.New("pluginhost: plugin binary does not match its pinned sha256 digest")
	// ErrStdoutBeforeHandshake is returned when a plugin writes to stdout
	// before the go-plugin handshake line.
	ErrStdoutBeforeHandshake = errors.New("pluginhost: plugin wrote to stdout before the handshake")
	// ErrDuplicate is returned when Start is given a plugin name already
	// known to the host.
	ErrDuplicate = errors.New("pluginhost: duplicate plugin name")
)

// Errors of calling a plugin.
var (
	// ErrUnknownPlugin is returned when no plugin of that name was started.
	ErrUnknownPlugin = errors.New("pluginhost: unknown plugin")
	// ErrWrongKind is returned when a plugin is asked for a kind it does not
	// list in GetInfo (e.g. PaymentMethod of an authenticator).
	ErrWrongKind = errors.New("pluginhost: plugin does not serve this kind")
	// ErrPluginExited is wrapped (inside a retryable sdk error of
	// CodeUnavailable) when the plugin process died during a call.
	ErrPluginExited = errors.New("pluginhost: plugin process exited")
	// ErrRestarting is wrapped (inside a retryable sdk error of
	// CodeUnavailable) when a call's deadline ends while its plugin is being
	// restarted.
	ErrRestarting = errors.New("pluginhost: plugin is restarting")
	// ErrClosed is returned by calls after Close.
	ErrClosed = errors.New("pluginhost: host is closed")
)

// Errors of the state of host_state plugins (sdk.CapHostState).
var (
	// ErrNoState is returned when a plugin lists host_state but the host
	// has no Options.State to keep its records: the host refuses to
	// configure it rather than run it without durability.
	ErrNoState = errors.New("pluginhost: plugin keeps its state in the host (host_state) but this host has no state store")
	// ErrInvalidStateWrites is wrapped when a plugin's answer carries state
	// writes out of bounds (key 1 to store.MaxStateKey bytes, value at
	// most store.MaxStateValue, at most MaxStateWrites records): the
	// answer is refused with a retryable error and the plugin is reset.
	ErrInvalidStateWrites = errors.New("pluginhost: invalid state writes")
	// ErrStateCommit is wrapped when an answer's state writes did not
	// commit: the answer is refused with a retryable error and the plugin
	// is reset to its committed state.
	ErrStateCommit = errors.New("pluginhost: plugin state writes did not commit")
	// ErrAnswerLost is wrapped (inside a retryable sdk error of
	// CodeUnavailable) when a host_state plugin's answer may have been lost
	// (deadline, broken connection): the plugin may have applied it, so
	// it is reset to its committed state.
	ErrAnswerLost = errors.New("pluginhost: the plugin's answer was lost")
	// ErrUnexpectedStateWrites is wrapped (inside an sdk error of
	// CodeInternal) when a plugin that does not list host_state answers
	// with state writes: the answer is refused, since dropping the writes
	// would lose durability the plugin counted on.
	ErrUnexpectedStateWrites = errors.New("pluginhost: state writes from a plugin without the host_state capability")
)

// Errors of the lock file.
var (
	// ErrLockMismatch is returned when a plugin block's own sha256 and the
	// lock file's disagree.
	ErrLockMismatch = errors.New("pluginhost: plugin sha256 in the configuration disagrees with the lock file")
)

// DigestError reports a plugin binary whose sha256 is not the pinned one.
// It matches ErrDigestMismatch.
type DigestError struct {
	Plugin, Path, Expected, Actual string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("pluginhost: plugin %q (%s): sha256 mismatch: expected %s, actual %s; refusing to start it",
		e.Plugin, e.Path, e.Expected, e.Actual)
}

// Is matches ErrDigestMismatch.
func (e *DigestError) Is(target error) bool { return target == ErrDigestMismatch }
