package render

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Fonts says whether the fonts Chromium finds through fontconfig cover
// Latin and CJK text. Without a font for a script, Chromium draws its
// characters as empty boxes, so a Korean panel title comes out unreadable.
type Fonts struct {
	Latin bool `json:"latin"`
	// CJK is true when Korean, Japanese and Chinese all have a font.
	CJK bool `json:"cjk"`
	// Missing lists the fontconfig languages without a font (en, ko, ja,
	// zh), and Install the Debian packages that add them.
	Missing []string `json:"missing,omitempty"`
	Install []string `json:"install,omitempty"`
	// Message is a sentence for health: what is covered, or what to
	// install.
	Message string `json:"message"`
}

// fontLanguage is a fontconfig language checked, and the Debian package
// whose fonts cover it.
type fontLanguage struct {
	lang, name, pkg string
	cjk             bool
}

var fontLanguages = []fontLanguage{
	{"en", "Latin", "fonts-dejavu-core", false},
	{"ko", "Korean", "fonts-noto-cjk", true},
	{"ja", "Japanese", "fonts-noto-cjk", true},
	{"zh", "Chinese", "fonts-noto-cjk", true},
}

// CheckFonts asks fontconfig (fc-list, which Chromium's fontconfig
// library reads the same configuration as) which languages have a font.
func CheckFonts(ctx context.Context) Fonts {
	found := make(map[string]bool, len(fontLanguages))
	for _, l := range fontLanguages {
		has, err := hasFontFor(ctx, l.lang)
		if err != nil {
			return Fonts{Message: err.Error()}
		}
		found[l.lang] = has
	}
	return fontsFrom(found)
}

// hasFontFor reports whether fc-list lists a font for the language.
func hasFontFor(ctx context.Context, lang string) (bool, error) {
	out, err := exec.CommandContext(ctx, "fc-list", ":lang="+lang, "family").Output()
	if errors.Is(err, exec.ErrNotFound) {
		return false, errors.New("fonts: fc-list not found, so fonts cannot be checked: install fontconfig (apt-get install fontconfig)")
	}
	if err != nil {
		return false, fmt.Errorf("fonts: fc-list :lang=%s: %w", lang, err)
	}
	return strings.TrimSpace(string(out)) != "", nil
}

// fontsFrom turns what fontconfig found per language into the report.
func fontsFrom(found map[string]bool) Fonts {
	f := Fonts{Latin: found["en"], CJK: true}
	var names []string
	for _, l := range fontLanguages {
		if found[l.lang] {
			continue
		}
		f.CJK = f.CJK && !l.cjk
		f.Missing = append(f.Missing, l.lang)
		names = append(names, l.name)
		if !slices.Contains(f.Install, l.pkg) {
			f.Install = append(f.Install, l.pkg)
		}
	}
	if len(f.Missing) == 0 {
		f.Message = "fonts: Latin and CJK (Korean, Japanese, Chinese) text is covered"
		return f
	}
	f.Message = fmt.Sprintf("fonts: no font for %s text, which renders as empty boxes: install %s (apt-get install %s)",
		strings.Join(names, ", "), strings.Join(f.Install, " and "), strings.Join(f.Install, " "))
	return f
}
