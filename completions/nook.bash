# bash completion for nook: every TAB asks `nook` itself (NOOK_COMPLETE=bash nook -- WORDS),
# so container, image and volume names come from the store. Written by `nook completion bash`.
_nook() {
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
        _get_comp_words_by_ref -n =: -c cur -w words -i cword
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
    fi
    words[cword]=$cur
    local IFS=$'\013'
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$cword" \
        _CLAP_COMPLETE_COMP_TYPE="${COMP_TYPE:-9}" \
        NOOK_COMPLETE=bash \
        nook -- "${words[@]:0:cword+1}" 2>/dev/null \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
        return
    fi
    if [[ "$cur" == *[=:]* && "$COMP_WORDBREAKS" == *[=:]* ]]; then
        local prefix=${cur%"${cur##*[=:]}"}
        COMPREPLY=( "${COMPREPLY[@]#"$prefix"}" )
    fi
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[=/:] ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _nook nook
