package main

import (
	"encoding/json"
	"io"
	"reflect"
	"time"
)

// printJSON writes v as one line of JSON. Every time in it is written the
// same way, UTC to the second (RFC 3339), as read --json writes its
// entries, so scripts parse one format.
func printJSON(w io.Writer, v any) error {
	rv := reflect.New(reflect.TypeOf(v)).Elem()
	rv.Set(reflect.ValueOf(v))
	secondsUTC(rv)
	return json.NewEncoder(w).Encode(rv.Interface())
}

var timeType = reflect.TypeOf(time.Time{})

// secondsUTC rewrites the times reachable from v in place.
func secondsUTC(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			if v.CanSet() {
				t := v.Interface().(time.Time)
				v.Set(reflect.ValueOf(t.UTC().Truncate(time.Second)))
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				secondsUTC(v.Field(i))
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			secondsUTC(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			secondsUTC(v.Index(i))
		}
	}
}
