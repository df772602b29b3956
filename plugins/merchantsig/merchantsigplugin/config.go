package merchantsigplugin

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"time"

	"github.com/switchd/switchd/plugins/internal/authkit"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// DefaultReplayWindow is the replay window when replay_window_seconds is
// not set.
const DefaultReplayWindow = 300 * time.Second

// config is the institution's block, as the host sends it.
type config struct {
	AttestationKey      string          `json:"attestation_key"`
	AttestationKeyID    string          `json:"attestation_key_id"`
	ReplayWindowSeconds *float64        `json:"replay_window_seconds"`
	Merchant            []merchantBlock `json:"merchant"`
}

type merchantBlock struct {
	ID  string     `json:"id"`
	Key []keyBlock `json:"key"`
}

type keyBlock struct {
	ID        string `json:"id"`
	PublicKey string `json:"public_key"`
}

func schema() *pb.Schema {
	return &pb.Schema{
		Attributes: append(authkit.KeyAttrs("acquirer", "B"),
			sdk.Attr("replay_window_seconds", pb.AttributeType_ATTRIBUTE_TYPE_NUMBER, false,
				"how far signed_at may be from now, either way, in seconds (default 300)"),
		),
		Blocks: []*pb.BlockType{{
			Name:        "merchant",
			Labels:      []string{"id"},
			Description: "a seller registered with this acquirer, by merchant id",
			Body: &pb.Schema{Blocks: []*pb.BlockType{{
				Name:        "key",
				Labels:      []string{"id"},
				MinItems:    1,
				Description: "one of the seller's signing keys, by key id",
				Body: &pb.Schema{Attributes: []*pb.Attribute{
					sdk.Attr("public_key", pb.AttributeType_ATTRIBUTE_TYPE_STRING, true,
						"the seller's Ed25519 public key, 32 bytes in base64 (or hex)"),
				}},
			}}},
		}},
	}
}

// decodeKey32 decodes 32 bytes given as 64 hex digits or base64 (standard
// or URL alphabet, padded or not).
func decodeKey32(s string) ([]byte, error) {
	return authkit.Decode32(s, ErrKeyEncoding, ErrKeySize)
}

// parse checks cfg and returns the settings, or every problem found.
func parse(cfg *config) (*settings, []*pb.Diagnostic) {
	s := &settings{window: DefaultReplayWindow, merchants: map[string]map[string]ed25519.PublicKey{}}
	var diags []*pb.Diagnostic
	s.key, diags = authkit.ParseKey(cfg.AttestationKey, cfg.AttestationKeyID, "acquirer", ErrKeyEncoding, ErrKeySize)
	if w := cfg.ReplayWindowSeconds; w != nil {
		if *w < 1 || *w > MaxReplayWindow.Seconds() || *w != math.Trunc(*w) {
			diags = append(diags, sdk.ErrorDiag([]string{"replay_window_seconds"}, "Invalid replay window",
				"replay_window_seconds must be a whole number of seconds from 1 to 86400, got %v.", *w))
		} else {
			s.window = time.Duration(*w) * time.Second
		}
	}
	for _, m := range cfg.Merchant {
		if m.ID == "" {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant"}, "Missing merchant id", "Every merchant block needs its merchant id as label."))
			continue
		}
		if _, dup := s.merchants[m.ID]; dup {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant", m.ID}, "Duplicate merchant", "Merchant %q is registered twice.", m.ID))
			continue
		}
		keys := map[string]ed25519.PublicKey{}
		seen := map[string]bool{}
		s.merchants[m.ID] = keys
		if len(m.Key) == 0 {
			diags = append(diags, sdk.ErrorDiag([]string{"merchant", m.ID}, "Merchant without keys",
				"Merchant %q needs at least one key block.", m.ID))
		}
		for _, k := range m.Key {
			path := []string{"merchant", m.ID, "key", k.ID}
			if k.ID == "" {
				diags = append(diags, sdk.ErrorDiag(path[:3], "Missing key id", "Every key block needs its key id as label."))
				continue
			}
			if seen[k.ID] {
				diags = append(diags, sdk.ErrorDiag(path, "Duplicate key", "Key %q of merchant %q is registered twice.", k.ID, m.ID))
				continue
			}
			seen[k.ID] = true
			pub, err := decodeKey32(k.PublicKey)
			if err != nil {
				diags = append(diags, sdk.ErrorDiag(append(path, "public_key"), "Invalid public key",
					"public_key %v; it must be a 32-byte Ed25519 public key in base64 or hex.", err))
				continue
			}
			keys[k.ID] = ed25519.PublicKey(pub)
		}
	}
	return s, diags
}

func (s *settings) String() string {
	return fmt.Sprintf("merchantsig settings (%d merchants)", len(s.merchants))
}
