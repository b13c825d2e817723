package data

import (
	"hash/maphash"
	"strings"
	"sync"
)

// pieceCache maps pre-tokenisation pieces to their token ids. It is safe for
// concurrent use: the pieces are spread over shards, each with its own lock,
// and a shard that grows past its bound is emptied, so the cache never holds
// more than cacheShards*cacheShardMax pieces.
type pieceCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 32
	cacheShardMax = 4096 // 131,072 pieces in all
	cacheMaxPiece = 128  // longer pieces are not cached
)

type cacheShard struct {
	mu sync.Mutex
	m  map[string][]int32
	_  [40]byte // keep shards on separate cache lines
}

func newPieceCache() *pieceCache {
	c := &pieceCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
	return c
}

func (c *pieceCache) shard(piece string) *cacheShard {
	return &c.shards[maphash.String(c.seed, piece)%cacheShards]
}

func (c *pieceCache) get(piece string) ([]int32, bool) {
	s := c.shard(piece)
	s.mu.Lock()
	ids, ok := s.m[piece]
	s.mu.Unlock()
	return ids, ok
}

// put stores ids, which the caller must not change afterwards. The piece is
// copied so that the cache does not pin the caller's text.
func (c *pieceCache) put(piece string, ids []int32) {
	s := c.shard(piece)
	s.mu.Lock()
	if len(s.m) >= cacheShardMax {
		clear(s.m)
	}
	s.m[strings.Clone(piece)] = ids
	s.mu.Unlock()
}
