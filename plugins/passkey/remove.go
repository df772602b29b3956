package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/switchd/switchd/plugins/internal/authkit"
	"github.com/switchd/switchd/plugins/passkey/passkeyplugin"
)

const removeAbout = `Removes the payer's passkey at the issuer (lost phone): the stored credentials and
user handle, and any open enrolment. The payer can then enrol a new passkey with an
activation code, and the old passkey is refused at step C. A lock stays: clear it
with unlock. Stop switchd first.`

// removeMain is the operator's remove command (see the README):
//
//	passkey remove --data-dir DIR --institution ID [--plugin NAME] PAYER_REF
//
// It returns the exit code: 0 when the payer's passkey was removed or
// nothing was stored, 1 on error (nothing changed), 2 on bad usage.
func removeMain(args []string, stdout, stderr io.Writer) int {
	a, ok := authkit.ParseOperatorArgs(passkeyplugin.Name, "remove", removeAbout, passkeyplugin.StateFile, args, stderr)
	if !ok {
		return 2
	}
	r, err := passkeyplugin.RemovePayer(a.Path, a.Institution, a.PayerRef)
	if err != nil {
		fmt.Fprintf(stderr, "passkey remove: %v\n", err)
		return 1
	}
	who := a.PayerRef + " at " + a.Institution
	switch {
	case r.Nothing():
		fmt.Fprintf(stdout, "%s had no passkey and no open enrolment stored; nothing changed\n", who)
	case len(r.CredentialIDs) == 0:
		fmt.Fprintf(stdout, "%s had no passkey; removed the user handle of an enrolment begun but not finished\n", who)
	default:
		fmt.Fprintf(stdout, "%s: removed %d passkey credential(s): %s\n", who, len(r.CredentialIDs), strings.Join(r.CredentialIDs, ", "))
	}
	if r.Enrolment {
		fmt.Fprintf(stdout, "%s: removed an open enrolment\n", who)
	}
	if r.Challenges > 0 {
		fmt.Fprintf(stdout, "%s: removed %d open step-C challenge(s) kept by an earlier version\n", who, r.Challenges)
	}
	if r.Lockout.Locked {
		fmt.Fprintf(stdout, "%s is still locked (%d failures): remove does not clear a lock, and a locked payer cannot enrol; run unlock with the same arguments to clear it\n", who, r.Lockout.Failures)
	}
	return 0
}
