package destinations

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Store serves the current generation of destinations and replaces it on
// reload; a bad file never replaces a good generation.
type Store struct {
	path string
	cur  atomic.Pointer[Set]
	mu   sync.Mutex // serialises reloads
	gen  uint64
}

// NewStore loads path (empty: the embedded demo) as generation 1; a bad file
// is an error, so that a service never starts on a config it cannot serve.
func NewStore(path string) (*Store, error) {
	s := &Store{path: path}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the generation in use; it is safe for concurrent use.
func (s *Store) Current() *Set { return s.cur.Load() }

// Path returns the destinations file, "" for the embedded demo.
func (s *Store) Path() string { return s.path }

// Reload reads the file again; on error the current generation stays.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	set, err := Load(s.path)
	if err != nil {
		return err
	}
	s.gen++
	set.Generation = s.gen
	s.cur.Store(set)
	return nil
}

// Watch reloads the file when it changes until ctx ends, calling onReload
// with each reload's result. It watches the file's directory, so editors that
// replace the file and Kubernetes ConfigMap symlink swaps are both seen.
// Bursts of events within settle are coalesced into one reload. A file that
// a process still holds open for writing is not read (onReload gets an error
// for which IsBeingWritten is true, once) and is tried again every settle
// until the writer closes it.
func (s *Store) Watch(ctx context.Context, settle time.Duration, onReload func(error)) error {
	if s.path == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer func() { _ = w.Close() }() // the watch ends with the context; nothing is lost
	dir := filepath.Dir(s.path)
	if err := w.Add(dir); err != nil {
		return err
	}
	target := filepath.Clean(s.path)
	var timer *time.Timer
	var fire <-chan time.Time
	deferred := false // the last attempt found the file open for writing
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			// A ConfigMap update swaps the ..data symlink, not the file itself.
			if filepath.Clean(ev.Name) != target && filepath.Base(ev.Name) != "..data" {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(settle)
			} else {
				timer.Reset(settle)
			}
			fire = timer.C
		case <-fire:
			fire = nil
			err := s.Reload()
			if IsBeingWritten(err) {
				// No event marks the writer's close: try again after settle,
				// reporting the deferral once per burst.
				timer.Reset(settle)
				fire = timer.C
				if deferred {
					continue
				}
			}
			deferred = IsBeingWritten(err)
			onReload(err)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			onReload(err)
		}
	}
}
