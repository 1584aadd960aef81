# Sourced by build.sh and ./logalert. Paket reads its feed from LOGALERT_NUGET_SOURCE (see
# paket.dependencies) so that no registry host is ever written into a tracked file; the value comes
# from this machine's own NuGet configuration.
if [ -z "${LOGALERT_NUGET_SOURCE:-}" ]; then
  LOGALERT_NUGET_SOURCE=$(dotnet nuget list source --format detailed 2>/dev/null |
    awk '/\[Enabled\]/ { getline; gsub(/^[ \t]+|[ \t]+$/, ""); print; exit }')
  if [ -z "$LOGALERT_NUGET_SOURCE" ]; then
    echo "logalert: no enabled NuGet source found ('dotnet nuget list source'); add one with 'dotnet nuget add source'." >&2
    return 1 2>/dev/null || exit 1
  fi
fi
export LOGALERT_NUGET_SOURCE
