# The local fleet's demo app on Apache httpd + mod_perl: the same routes as the Node instance
# (server/fleet/instance.ts). Loaded once by `PerlModule` when Apache starts, with the version read from
# the release it was loaded from: new code serves only after a restart, as on a real mod_perl server.
package Rotor::Demo;
use strict;
use warnings;
use File::Basename ();
use File::Spec ();
use JSON::PP ();
use Time::HiRes ();
use Apache2::RequestRec ();
use Apache2::RequestIO ();
use Apache2::RequestUtil ();
use Apache2::Const -compile => qw(OK);
use APR::Table ();

# An injected start-up crash (fault `start-fails`): Apache refuses to start, as with a broken release.
die "application crashed during start-up (injected fault: start-fails)\n" if ($ENV{ROTOR_FAIL_START} // '') eq '1';

my $release_dir = File::Spec->catdir(File::Basename::dirname(__FILE__), File::Spec->updir, File::Spec->updir);
sub slurp {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "cannot read $file: $!\n";
    local $/;
    return scalar <$fh>;
}
our $VERSION_SERVED = JSON::PP::decode_json(slurp("$release_dir/release.json"))->{version};
die "release.json in $release_dir has no version\n" unless defined $VERSION_SERVED && $VERSION_SERVED ne '';
our $PAGE = slurp("$release_dir/index.html");
my $SLOW_MAX_MS = 10_000;
my $json = JSON::PP->new->canonical;

sub send_body {
    my ($r, $status, $type, $body, $id) = @_;
    $r->status($status);
    $r->content_type($type);
    # Header values must carry no newline: mod_perl aborts the request on one (AH02430).
    $r->headers_out->set('x-rotor-version' => $VERSION_SERVED);
    $r->headers_out->set('x-rotor-instance' => $id);
    $r->headers_out->set('content-length' => length($body));
    $r->print($body);
    return Apache2::Const::OK;
}

sub handler {
    my ($r) = @_;
    my $id = $r->dir_config('RotorInstance') // 'i-local-?';
    my $zone = $r->dir_config('RotorZone') // 'local-a';
    my $state = $r->dir_config('RotorStateDir') // '';
    my $path = $r->uri;
    return send_body($r, 200, 'application/json', $json->encode({ status => 'ok', version => $VERSION_SERVED, id => $id }), $id) if $path eq '/health';
    # Fault `backend-500`: a flag file the supervisor creates and removes, read on every request.
    return send_body($r, 500, 'application/json', $json->encode({ error => 'injected fault: backend-500', version => $VERSION_SERVED, id => $id }), $id) if $state ne '' && -e "$state/backend-500";
    return send_body($r, 200, 'application/json', $json->encode({ version => $VERSION_SERVED, id => $id, zone => $zone }), $id) if $path eq '/version';
    if ($path eq '/slow') {
        my ($asked) = (($r->args // '') =~ /(?:^|&)ms=(\d+)/);
        my $ms = defined $asked ? ($asked > $SLOW_MAX_MS ? $SLOW_MAX_MS : $asked + 0) : 1000;
        # A graceful stop (SIGWINCH) interrupts sleep: loop until the deadline so the request still lasts $ms.
        my $deadline = Time::HiRes::time() + $ms / 1000;
        while ((my $left = $deadline - Time::HiRes::time()) > 0) { Time::HiRes::sleep($left) }
        return send_body($r, 200, 'application/json', $json->encode({ version => $VERSION_SERVED, id => $id, sleptMs => $ms }), $id);
    }
    return send_body($r, 200, 'text/html; charset=utf-8', $PAGE, $id) if $path eq '/';
    return send_body($r, 404, 'application/json', $json->encode({ error => 'not found', version => $VERSION_SERVED, id => $id }), $id);
}

1;
