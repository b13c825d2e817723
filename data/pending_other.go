//go:build !linux

package data

import (
	"errors"
	"os"
)

// openUnnamed: only Linux makes files without a name.
func openUnnamed(string) (*os.File, error) { return nil, errors.ErrUnsupported }

var linkUnnamedFile = func(*os.File, string, string) (string, error) { return "", errors.ErrUnsupported }
