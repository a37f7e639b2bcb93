package mam

import (
	"errors"
	"time"
)

// errDateTime is ParseDateTime's error.
var errDateTime = errors.New("mam: not a XEP-0082 DateTime")

// maxFraction bounds the digits of a fraction of a second ParseDateTime
// accepts (those after the ninth are ignored).
const maxFraction = 32

// ParseDateTime parses a XEP-0082 DateTime, CCYY-MM-DDThh:mm:ss[.sss]TZD,
// strictly: a four-digit year, the fields in range for their month, a
// fraction of at least one digit if there is a '.', and a time zone of Z
// or ±hh:mm no further than 14 hours from UTC (the XML Schema dateTime
// that XEP-0082 §3.2 defers to, without its years beyond 9999 and before
// 0001). 24:00:00 is the first instant of the next day (XML Schema 1.1).
// Surrounding XML white space is allowed. The result is in UTC, and its
// year too has four digits.
func ParseDateTime(s string) (time.Time, error) {
	s = trimSpace(s)
	p := dtParser{s: s}
	year := p.num(4)
	p.lit('-')
	month := p.num(2)
	p.lit('-')
	day := p.num(2)
	p.lit('T')
	hour := p.num(2)
	p.lit(':')
	minute := p.num(2)
	p.lit(':')
	sec := p.num(2)
	nsec, digits := 0, 0
	if p.peek() == '.' {
		p.i++
		for p.i < len(p.s) && isDigit(p.s[p.i]) {
			if digits < 9 {
				nsec = nsec*10 + int(p.s[p.i]-'0')
			}
			digits++
			p.i++
		}
		if digits == 0 || digits > maxFraction {
			p.bad = true
		}
		for d := digits; d < 9; d++ {
			nsec *= 10
		}
	}
	offset := 0
	switch p.peek() {
	case 'Z':
		p.i++
	case '+', '-':
		sign := 1
		if p.s[p.i] == '-' {
			sign = -1
		}
		p.i++
		oh := p.num(2)
		p.lit(':')
		om := p.num(2)
		if oh > 14 || om > 59 || (oh == 14 && om != 0) {
			p.bad = true
		}
		offset = sign * (oh*3600 + om*60)
	default:
		p.bad = true
	}
	if p.bad || p.i != len(p.s) || year == 0 || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || minute > 59 || sec > 59 {
		return time.Time{}, errDateTime
	}
	endOfDay := hour == 24
	if hour > 23 && (!endOfDay || minute != 0 || sec != 0 || nsec != 0) {
		return time.Time{}, errDateTime
	}
	if endOfDay {
		hour = 0
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.FixedZone("", offset))
	if endOfDay {
		t = t.AddDate(0, 0, 1)
	}
	if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, errDateTime // not a four-digit year in UTC
	}
	return t, nil
}

// dtParser reads fixed-width fields; bad records any mismatch.
type dtParser struct {
	s   string
	i   int
	bad bool
}

func (p *dtParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *dtParser) lit(c byte) {
	if p.peek() != c {
		p.bad = true
		return
	}
	p.i++
}

func (p *dtParser) num(width int) int {
	n := 0
	for range width {
		c := p.peek()
		if !isDigit(c) {
			p.bad = true
			return 0
		}
		n = n*10 + int(c-'0')
		p.i++
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// daysIn returns the number of days of month in year (proleptic
// Gregorian calendar).
func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// trimSpace removes leading and trailing XML white space (XML 1.0 §2.3).
func trimSpace(s string) string {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
