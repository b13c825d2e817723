package data

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// fileID names the file f whatever path reaches it: its volume serial
// number and file index, the same for a symbolic or hard link.
func fileID(f string, _ os.FileInfo) (string, error) {
	h, err := os.Open(f)
	if err != nil {
		return "", err
	}
	defer h.Close()
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(h.Fd()), &info); err != nil {
		return "", &os.PathError{Op: "GetFileInformationByHandle", Path: f, Err: err}
	}
	return fmt.Sprintf("%d:%d:%d", info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow), nil
}
