package store

import (
	"fmt"
)

// stateBucketKey names the sub-bucket of plugin_state that holds one
// plugin instance's records.
func stateBucketKey(plugin, instance string) []byte { return cat(lp(plugin), lp(instance)) }

func checkStateOwner(plugin, instance string) error {
	if plugin == "" || instance == "" || len(plugin) > 255 || len(instance) > 255 {
		return fmt.Errorf("%w: plugin and instance must be 1 to 255 bytes", ErrInvalid)
	}
	return nil
}

// PutPluginState implements Tx.
func (t *boltTx) PutPluginState(plugin, instance string, key, value []byte) error {
	if err := checkStateOwner(plugin, instance); err != nil {
		return err
	}
	if len(key) == 0 || len(key) > MaxStateKey {
		return fmt.Errorf("%w: key of %d bytes (want 1 to %d)", ErrInvalid, len(key), MaxStateKey)
	}
	if len(value) > MaxStateValue {
		return fmt.Errorf("%w: value of %d bytes (want at most %d)", ErrInvalid, len(value), MaxStateValue)
	}
	parent := t.tx.Bucket(bPlugState)
	name := stateBucketKey(plugin, instance)
	if len(value) == 0 {
		b := parent.Bucket(name)
		if b == nil {
			return nil
		}
		return b.Delete(key)
	}
	b, err := parent.CreateBucketIfNotExists(name)
	if err != nil {
		return fmt.Errorf("plugin state of %s/%s: %w", plugin, instance, err)
	}
	return b.Put(key, value)
}

// PluginState implements Tx.
func (t *boltTx) PluginState(plugin, instance string, fn func(key, value []byte) error) error {
	if err := checkStateOwner(plugin, instance); err != nil {
		return err
	}
	b := t.tx.Bucket(bPlugState).Bucket(stateBucketKey(plugin, instance))
	if b == nil {
		return nil
	}
	return b.ForEach(fn)
}

// HasPluginState implements Tx.
func (t *boltTx) HasPluginState(plugin, instance string) (bool, error) {
	if err := checkStateOwner(plugin, instance); err != nil {
		return false, err
	}
	b := t.tx.Bucket(bPlugState).Bucket(stateBucketKey(plugin, instance))
	if b == nil {
		return false, nil
	}
	k, _ := b.Cursor().First()
	return k != nil, nil
}
