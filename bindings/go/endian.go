package exectrace

import (
	"encoding/binary"
	"unsafe"
)

// NativeEndian is the byte order of the host: binary.LittleEndian or
// binary.BigEndian.
var NativeEndian binary.ByteOrder

func init() {
	var x uint16 = 0x0102
	if *(*byte)(unsafe.Pointer(&x)) == 0x02 {
		NativeEndian = binary.LittleEndian
	} else {
		NativeEndian = binary.BigEndian
	}
}
