package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/switchd/switchd/switchd/wallet"
)

// newWalletCmd is `switchd wallet`: the payer's side of step C, for testing
// a network by hand and for scripts.
func newWalletCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wallet",
		Short: "Act as a payer's wallet at step C (authentication with the issuer)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newWalletOCRACmd())
	return cmd
}

func newWalletOCRACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ocra",
		Short: "RFC 6287 OCRA mutual challenge-response with the ocra plugin",
		Long: `The payer leads: "challenge" prints a fresh client challenge to type into
the payment page; the page shows the issuer's challenge data; "answer" checks
that the issuer knows your key and that its challenge is bound to the order
digest, and only then prints the payer_data with your answer.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newWalletOCRAChallengeCmd(), newWalletOCRAAnswerCmd())
	return cmd
}

func newWalletOCRAChallengeCmd() *cobra.Command {
	var suite string
	cmd := &cobra.Command{
		Use:   "challenge",
		Short: "Print a fresh random client challenge",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w := &wallet.OCRA{Suite: suite}
			q := w.Begin()
			if q == "" {
				_, err := w.Answer(nil, nil) // reports why the suite is unusable
				return fmt.Errorf("cannot make a challenge: %w", err)
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), q)
			return err
		},
	}
	cmd.Flags().StringVar(&suite, "suite", wallet.DefaultOCRASuite, "OCRA suite of your credential")
	return cmd
}

func newWalletOCRAAnswerCmd() *cobra.Command {
	var keyFile, suite, digestHex, clientChallenge, challengeData string
	cmd := &cobra.Command{
		Use:   "answer",
		Short: "Check the issuer's proof and print the payer_data answering its challenge",
		Example: `  switchd wallet ocra answer --key-file alice.key --digest 3f7a...e1 \
    --client-challenge K7Q2M9XA \
    --challenge-data '{"suite":"OCRA-1:HOTP-SHA256-8:QA08","server_response":"…","server_challenge":"…","nonce":"…"}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("reading the key file: %w", err)
			}
			key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil || len(key) == 0 {
				return fmt.Errorf("the key file %s does not hold a hex key", keyFile)
			}
			digest, err := hex.DecodeString(strings.TrimSpace(digestHex))
			if err != nil || len(digest) != 32 {
				return errors.New("--digest must be the order digest: 64 hex digits, as the payment page shows it")
			}
			data := []byte(challengeData)
			if name, ok := strings.CutPrefix(challengeData, "@"); ok {
				if data, err = os.ReadFile(name); err != nil {
					return fmt.Errorf("reading the challenge data: %w", err)
				}
			}
			w := &wallet.OCRA{Key: key, Suite: suite, ClientChallenge: strings.TrimSpace(clientChallenge)}
			out, err := w.Answer(data, digest)
			var refused *wallet.RefusedError
			switch {
			case errors.Is(err, wallet.ErrIssuerNotProven):
				return fmt.Errorf("%w: the other side does not hold your key, or answered another challenge; do not answer", err)
			case errors.As(err, &refused):
				return fmt.Errorf("%w: its challenge is for another order than the digest you hold; do not answer", err)
			case err != nil:
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyFile, "key-file", "", "file holding your OCRA key in hex (required)")
	f.StringVar(&suite, "suite", wallet.DefaultOCRASuite, "OCRA suite of your credential")
	f.StringVar(&digestHex, "digest", "", "order digest in hex, as the payment page shows it (required)")
	f.StringVar(&clientChallenge, "client-challenge", "", "the client challenge you gave the issuer (required)")
	f.StringVar(&challengeData, "challenge-data", "", "the issuer's challenge data JSON, or @file (required)")
	for _, name := range []string{"key-file", "digest", "client-challenge", "challenge-data"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}
