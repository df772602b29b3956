package authkit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/switchd/switchd/internal/boltgroup"
	pb "github.com/switchd/switchd/plugins/proto/pluginv1"
	"github.com/switchd/switchd/plugins/sdk"
)

// Instances holds a plugin's configured instances, by instance id, and the
// bbolt state files they use, by path. Instances that share a data dir share
// one open file and its committer. It is safe for concurrent use.
type Instances[I any] struct {
	name      string // the plugin's name, prefix of errors
	mu        sync.RWMutex
	instances map[string]I
	files     map[string]*boltgroup.Committer[*bolt.Tx] // by file path, shared by instances
}

// NewInstances returns an empty set for the plugin called name, which
// prefixes its errors. It has no side effects.
func NewInstances[I any](name string) *Instances[I] {
	return &Instances[I]{name: name, instances: map[string]I{}, files: map[string]*boltgroup.Committer[*bolt.Tx]{}}
}

// Get returns the instance configured under id, or a FailedPrecondition
// error "<name>: instance "<id>" is not configured".
func (s *Instances[I]) Get(id string) (I, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	inst, ok := s.instances[id]
	if !ok {
		var zero I
		return zero, sdk.FailedPrecondition("%s: instance %q is not configured", s.name, id)
	}
	return inst, nil
}

// Put makes inst the instance configured under id, replacing any previous
// one.
func (s *Instances[I]) Put(id string, inst I) {
	s.mu.Lock()
	s.instances[id] = inst
	s.mu.Unlock()
}

// OpenFile returns the committer of the bbolt file at path, opening the
// file on first use. Writes to the file go through the committer's Update
// (group commit: concurrent calls share a transaction and its fsync, and a
// write fn may run more than once, see package boltgroup); reads through
// its DB().View.
func (s *Instances[I]) OpenFile(path string) (*boltgroup.Committer[*bolt.Tx], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.files[path]; ok {
		return c, nil
	}
	// The free-page list is rebuilt at open instead of written at each
	// commit: a page write less per commit (see ledger.Open).
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("%s: open %s: %w", s.name, path, err)
	}
	c := boltgroup.New(db, boltgroup.Options{})
	s.files[path] = c
	return c, nil
}

// OpenState opens the state file called file in dataDir and creates in it,
// if missing, the instance's top-level bucket named instanceID with the
// given buckets inside. Its failure is returned as an error diagnostic
// ("Cannot open state file" or "Cannot initialise state file") for
// Configure to report.
func (s *Instances[I]) OpenState(dataDir, file, instanceID string, buckets ...[]byte) (*boltgroup.Committer[*bolt.Tx], *pb.Diagnostic) {
	c, err := s.OpenFile(filepath.Join(dataDir, file))
	if err != nil {
		return nil, sdk.ErrorDiag(nil, "Cannot open state file", "%v", err)
	}
	if err := c.Update(context.Background(), func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(instanceID))
		if err != nil {
			return err
		}
		for _, name := range buckets {
			if _, err := b.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, sdk.ErrorDiag(nil, "Cannot initialise state file", "%v", err)
	}
	return c, nil
}

// DropBucket deletes the bucket called name inside the instance's
// top-level bucket, if it is there: state an earlier version kept and this
// one no longer reads (ocra's and passkey's open challenges, which now live
// in memory). It writes nothing when the bucket is absent.
func DropBucket(ctx context.Context, db *boltgroup.Committer[*bolt.Tx], instanceID string, name []byte) error {
	var old bool
	if err := db.DB().View(func(tx *bolt.Tx) error {
		old = tx.Bucket([]byte(instanceID)).Bucket(name) != nil
		return nil
	}); err != nil || !old {
		return err
	}
	return db.Update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(instanceID))
		if b.Bucket(name) == nil {
			return nil
		}
		return b.DeleteBucket(name)
	})
}

// Close waits for the writes under way, closes the state files and
// forgets every instance. The set must not be used afterwards.
func (s *Instances[I]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for path, c := range s.files {
		c.Close()
		errs = append(errs, c.DB().Close())
		delete(s.files, path)
	}
	s.instances = map[string]I{}
	return errors.Join(errs...)
}

// Health answers sdk.Plugin's Health: serving, unless the request names an
// instance that is not configured.
func (s *Instances[I]) Health(_ context.Context, req *pb.HealthRequest) (*pb.HealthResponse, error) {
	if id := req.GetInstanceId(); id != "" {
		if _, err := s.Get(id); err != nil {
			return &pb.HealthResponse{Serving: false, Message: "instance is not configured"}, nil
		}
	}
	return &pb.HealthResponse{Serving: true}, nil
}

// InstitutionID is the institution an instance signs for: the one the host
// names in req, or else the instance id.
func InstitutionID(req *pb.ConfigureRequest) string {
	if id := req.GetInstitution().GetId(); id != "" {
		return id
	}
	return req.GetInstanceId()
}
