#!/usr/bin/env bash
# models/get.sh [NAME | PATH]: make a model ready for `qlm chat`.
#
# Prints two lines on stdout: the .qlm file to chat with and the --template to
# use; everything else goes to stderr.
#   NAME   a model of the catalogue (models/catalog/NAME.conf; default
#          smollm2-135m-instruct): its files are taken from $QLM_MODEL_MIRROR
#          (DIR/NAME/FILE or DIR/FILE) or downloaded with curl (resumable) into
#          models/cache/NAME/, checked against their sha256 (pinned in the
#          catalogue as sha256.FILE=..., else recorded at first download in
#          SHA256SUMS), and converted once to models/cache/NAME/model-QUANT.qlm.
#   PATH   a .qlm (used as is), a .gguf, a llama2.c .bin or a Hugging Face
#          folder (converted once to models/cache/converted/).
# Environment: QLM (the qlm binary), QUANT (f32|f16|bf16|q8|q4, default: the
# catalogue's or q8), QLM_MODEL_MIRROR, QLM_MODEL_CACHE (default models/cache),
# QLM_CATALOG (default models/catalog).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
QLM=${QLM:-$here/../build/qlm}
CATALOG=${QLM_CATALOG:-$here/catalog}
CACHE=${QLM_MODEL_CACHE:-$here/cache}
DEFAULT=smollm2-135m-instruct

die() { echo "models/get.sh: $*" >&2; exit 1; }
note() { echo "models/get.sh: $*" >&2; }
conf() { sed -n "s/^$1=//p" "$2" | head -n 1; }

# stale SRC OUT: OUT is missing or older than SRC (a file, or a folder's model files).
stale() {
    [ -s "$2" ] || return 0
    if [ -d "$1" ]; then
        [ -n "$(find "$1" -maxdepth 1 -type f \( -name '*.json' -o -name '*.safetensors' -o -name '*.jinja' \) \
                -newer "$2" -print -quit)" ]
    else
        [ "$1" -nt "$2" ]
    fi
}

# convert SRC OUT TYPE: (re)convert when OUT is stale.
convert() {
    stale "$1" "$2" || return 0
    note "converting $1 -> $2 ($3)"
    "$QLM" convert "$1" -o "$2.tmp" --type "$3" >&2 || { rm -f "$2.tmp"; die "conversion of $1 failed"; }
    mv "$2.tmp" "$2"
}

offline_help() {
    cat >&2 <<MSG
models/get.sh: cannot download $1 (no network?).
  Put the files of $2 ($3) in $4/
  (or in \$QLM_MODEL_MIRROR/$2/), or chat with a model you already have:
    make chat MODEL=path/to/model.qlm|.gguf|hf-folder
  for example: make chat MODEL=../shared/models/stories260K/stories260K-f32.gguf
MSG
    exit 1
}

[ -x "$QLM" ] || die "$QLM not found (run make first)"
arg=${1:-}

if [ -n "$arg" ] && [ -e "$arg" ]; then
    case "$arg" in
    *.qlm) printf '%s\nauto\n' "$arg"; exit 0 ;;
    esac
    [ -f "$arg" ] || [ -f "$arg/config.json" ] || die "$arg: not a .qlm, .gguf, llama2.c .bin or Hugging Face folder"
    type=${QUANT:-q8}
    base=$(basename "$arg")
    base=${base%.gguf}
    base=${base%.bin}
    mkdir -p "$CACHE/converted"
    out="$CACHE/converted/$base-$type.qlm"
    convert "$arg" "$out" "$type"
    printf '%s\nauto\n' "$out"
    exit 0
fi

name=${arg:-$DEFAULT}
cf="$CATALOG/$name.conf"
if [ ! -f "$cf" ]; then
    known=$(cd "$CATALOG" && ls -- *.conf 2>/dev/null | sed 's/\.conf$//' | tr '\n' ' ')
    die "'$name' is neither a file nor a catalogue model (known: $known)"
fi
source_url=$(conf source "$cf")
files=$(conf files "$cf")
type=${QUANT:-$(conf quant "$cf")}
template=$(conf template "$cf")
dir="$CACHE/$name"
mkdir -p "$dir"

have=()
for spec in $files; do
    f=${spec%\?}
    optional=$([ "$f" != "$spec" ] && echo 1 || echo 0)
    if [ ! -s "$dir/$f" ] && [ ! -e "$dir/$f.absent" ]; then
        mirror=${QLM_MODEL_MIRROR:-}
        if [ -n "$mirror" ] && [ -s "$mirror/$name/$f" ]; then
            cp "$mirror/$name/$f" "$dir/$f.part" && mv "$dir/$f.part" "$dir/$f"
        elif [ -n "$mirror" ] && [ -s "$mirror/$f" ]; then
            cp "$mirror/$f" "$dir/$f.part" && mv "$dir/$f.part" "$dir/$f"
        else
            note "downloading $source_url$f"
            code=0
            curl -fL --progress-bar --connect-timeout 15 --retry 2 -C - -o "$dir/$f.part" "$source_url$f" || code=$?
            if [ "$code" != 0 ] && [ "$optional" = 1 ]; then
                rm -f "$dir/$f.part"
                # the model has no such file (22: HTTP 404 and the like, 37: a file:// source
                # lacks it): remember that; anything else may be the network: try again next time
                if [ "$code" = 22 ] || [ "$code" = 37 ]; then : > "$dir/$f.absent"; else note "skipping optional $f"; fi
                continue
            fi
            [ "$code" = 0 ] || offline_help "$source_url$f" "$name" "$files" "$dir"
            mv "$dir/$f.part" "$dir/$f"
        fi
    fi
    [ -s "$dir/$f" ] && have+=("$f")
done

# Integrity: pinned hashes, then the ones recorded when the files arrived.
for f in "${have[@]}"; do
    want=$(conf "sha256.$f" "$cf")
    if [ -n "$want" ]; then
        got=$(sha256sum "$dir/$f" | cut -d' ' -f1)
        [ "$got" = "$want" ] || die "$dir/$f: sha256 $got, the catalogue says $want (delete it to download again)"
    fi
done
if [ -f "$dir/SHA256SUMS" ]; then
    (cd "$dir" && sha256sum -c --quiet SHA256SUMS >&2) ||
        die "checksum mismatch in $dir (delete the file named above to download it again)"
else
    (cd "$dir" && sha256sum "${have[@]}" > SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
fi

out="$dir/model-$type.qlm"
convert "$dir" "$out" "$type"
printf '%s\n%s\n' "$out" "${template:-auto}"
