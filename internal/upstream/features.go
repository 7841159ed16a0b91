package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
	"go.uber.org/zap"
)

// compactedKey is the /features flag that makes rudder-server send every
// destination request, to any destination, as a compacted payload.
const compactedKey = "supportDestTransformCompactedPayloadV1"

// maxFeaturesBytes bounds the upstream's /features document.
const maxFeaturesBytes = 1 << 20

// Features returns the /features document of the sidecar: the upstream's,
// with own merged in (MergeFeatures). It never fails: when the upstream
// cannot be asked, or answers something other than a JSON object, it
// returns the last document merged from the upstream's (so that
// rudder-server does not flip other destinations between processor and
// router transforms while the upstream restarts); before any, own without
// the compacted-payload flag (see fallback). The failure is counted, and
// logged once until the upstream answers again (rudder-server polls every
// few seconds).
func (u *Upstream) Features(ctx context.Context, own []byte) []byte {
	doc, reason, err := u.fetchFeatures(ctx)
	if err == nil {
		if doc, err = MergeFeatures(doc, own); err != nil {
			reason = "invalid"
		}
	}
	if err != nil {
		u.m.UpstreamErrors.WithLabelValues("/features", reason).Inc()
		if !u.featuresFailing.Swap(true) {
			u.log.Warn("upstream /features failed; answering without it until it answers", zap.String("upstream", u.String()),
				zap.String("reason", reason), zap.Error(err))
		}
		if last := u.lastFeatures.Load(); last != nil {
			return *last
		}
		return fallback(own)
	}
	if u.featuresFailing.Swap(false) {
		u.log.Info("upstream /features answers again", zap.String("upstream", u.String()))
	}
	u.lastFeatures.Store(&doc)
	return doc
}

// fetchFeatures asks the upstream for its /features document; reason
// classifies a failure for the metrics.
func (u *Upstream) fetchFeatures(ctx context.Context) (doc []byte, reason string, err error) {
	ctx, cancel := context.WithTimeout(ctx, u.featuresTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.target.JoinPath("features").String(), http.NoBody)
	if err != nil {
		return nil, "failed", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, reasonOf(ctx, err), err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxFeaturesBytes)) // drained for reuse; its bytes do not matter
		return nil, "status", fmt.Errorf("GET /features answered %s", resp.Status)
	}
	doc, err = io.ReadAll(io.LimitReader(resp.Body, maxFeaturesBytes+1))
	switch {
	case err != nil:
		return nil, reasonOf(ctx, err), err
	case len(doc) > maxFeaturesBytes:
		return nil, "invalid", fmt.Errorf("GET /features answered more than %d bytes", maxFeaturesBytes)
	}
	return doc, "", nil
}

// MergeFeatures merges this service's /features document (own) into the
// upstream's (doc), which must be a JSON object. Own's routerTransform
// entries are added, overriding the upstream's for the same destination
// (this service answers for it). Own's other keys are added only where the
// upstream's document lacks them, so that rudder-server always gets the
// source-transform flags it cannot run without; where both have a key, the
// upstream's value stays, since it describes what the upstream does. The
// compacted-payload flag is never added: it makes rudder-server compact the
// requests of every destination, so it may only be advertised when the
// upstream supports it (this service reads both formats).
func MergeFeatures(doc, own []byte) ([]byte, error) {
	if !gjson.ValidBytes(doc) || !gjson.ParseBytes(doc).IsObject() {
		return nil, errors.New("the upstream's /features is not a JSON object")
	}
	out := append([]byte(nil), doc...)
	var err error
	if rt := gjson.GetBytes(out, "routerTransform"); rt.Exists() && !rt.IsObject() {
		if out, err = sjson.SetRawBytes(out, "routerTransform", []byte("{}")); err != nil {
			return nil, err
		}
	}
	gjson.ParseBytes(own).ForEach(func(k, v gjson.Result) bool {
		switch key := escapeKey(k.Str); {
		case k.Str == "routerTransform":
			v.ForEach(func(dest, on gjson.Result) bool {
				out, err = sjson.SetRawBytes(out, "routerTransform."+escapeKey(dest.Str), []byte(on.Raw))
				return err == nil
			})
		case k.Str != compactedKey && !gjson.GetBytes(out, key).Exists():
			out, err = sjson.SetRawBytes(out, key, []byte(v.Raw))
		}
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// fallback is own's document as answered while the upstream has never
// answered: without the compacted-payload flag, which would make
// rudder-server compact the requests of destinations the upstream serves,
// perhaps without supporting it. This service reads both formats.
func fallback(own []byte) []byte {
	out, err := sjson.DeleteBytes(own, compactedKey)
	if err != nil {
		return own
	}
	return out
}

// escapeKey escapes the characters that are special in an sjson path.
func escapeKey(k string) string {
	if !strings.ContainsAny(k, `.*?\|#@!:`) {
		return k
	}
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(`.*?\|#@!:`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
