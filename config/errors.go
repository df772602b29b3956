package config

import "errors"

// Errors of LoadSettings. Network configuration problems are not Go errors
// but hcl.Diagnostics, each with its source range.
var (
	// ErrSettingsFile is returned when the --settings file cannot be read,
	// is not YAML, TOML or JSON, or holds a key that is not a setting.
	ErrSettingsFile = errors.New("settings file")
	// ErrInvalidSetting is returned (wrapped, once per bad setting, joined)
	// when a setting's value is malformed or out of range, from whichever
	// source it came.
	ErrInvalidSetting = errors.New("invalid setting")
)
