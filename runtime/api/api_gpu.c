/* libqlm: GPU numeric paths and per-layer dumps of a session (include/qlm.h,
 * docs/GPU-NUMERICS.md sections 5 and 6). */
#include "runtime/api/api_int.h"

qlm_status qlm_session_set_path(qlm_session *s, const char *path)
{
    if (!s || !path)
        return qlm_fail(QLM_E_ARG, "qlm_session_set_path: NULL %s", s ? "path" : "session");
    qlm_path p;
    if (!qlm_path_parse(path, &p))
        return qlm_fail(QLM_E_ARG, "unknown numeric path '%s' (native, f32, bf16, w4a16, fp8-w8a8, nvfp4, mxfp4)",
                        path);
    return qlm_ctx_set_path(s->ctx, p);
}

qlm_status qlm_session_set_dump(qlm_session *s, qlm_session_dump_fn fn, void *user)
{
    if (!s)
        return qlm_fail(QLM_E_ARG, "qlm_session_set_dump: NULL session");
    /* the public and internal observer types have the same signature */
    qlm_ctx_set_dump(s->ctx, fn, user);
    return QLM_OK;
}
