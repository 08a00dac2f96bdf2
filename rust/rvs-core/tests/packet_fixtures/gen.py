# Independent packet builder (plain Python checksums) for rvs-core test fixtures and fuzz seeds.
import struct, sys, os
def csum(b):
    if len(b)%2: b+=b'\0'
    s=sum(struct.unpack('!%dH'%(len(b)//2),b))
    while s>>16: s=(s&0xffff)+(s>>16)
    return (~s)&0xffff
def crc32c(b):
    c=0xffffffff
    for x in b:
        c^=x
        for _ in range(8): c=(c>>1)^0x82F63B78 if c&1 else c>>1
    return (~c)&0xffffffff
def ip4(src,dst,proto,payload,opts=b'',ident=0x1c46,flags=0x4000,ttl=64):
    ihl=5+len(opts)//4
    h=struct.pack('!BBHHHBBH4s4s',0x40|ihl,0,ihl*4+len(payload),ident,flags,ttl,proto,0,bytes(src),bytes(dst))+opts
    c=csum(h); h=h[:10]+struct.pack('!H',c)+h[12:]
    return h+payload
def ip6(src,dst,nh,payload,ext=b''):
    return struct.pack('!IHBB16s16s',0x60000000,len(ext)+len(payload),nh,64,bytes(src),bytes(dst))+ext+payload
def pseudo4(s,d,p,l): return bytes(s)+bytes(d)+struct.pack('!BBH',0,p,l)
def pseudo6(s,d,p,l): return bytes(s)+bytes(d)+struct.pack('!IxxxB',l,p)
def tcp(s,d,sp,dp,flags,payload=b'',v6=False):
    h=struct.pack('!HHIIBBHHH',sp,dp,0x11223344,0x55667788 if flags&0x10 else 0,5<<4,flags,64240,0,0)+payload
    ps=(pseudo6 if v6 else pseudo4)(s,d,6,len(h))
    c=csum(ps+h); return h[:16]+struct.pack('!H',c)+h[18:]
def udp(s,d,sp,dp,payload,v6=False,nocsum=False):
    h=struct.pack('!HHHH',sp,dp,8+len(payload),0)+payload
    if nocsum: return h
    ps=(pseudo6 if v6 else pseudo4)(s,d,17,len(h))
    c=csum(ps+h) or 0xffff
    return h[:6]+struct.pack('!H',c)+h[8:]
def sctp(sp,dp,chunks):
    h=struct.pack('!HHII',sp,dp,0xdeadbeef,0)+chunks
    return h[:8]+struct.pack('<I',crc32c(h))+h[12:]
C=[10,0,0,2]; V=[192,168,1,100]; R=[172,16,0,2]
C6=[0x20,1,0xd,0xb8]+[0]*11+[2]; V6=[0x20,1,0xd,0xb8]+[0]*11+[0x64]; R6=[0xfd,0]+[0]*13+[2]
pk={}
pk['tcp4_syn']=ip4(C,V,6,tcp(C,V,43210,80,0x02))
pk['tcp4_data_opts']=ip4(C,V,6,tcp(C,V,43210,80,0x18,b'GET / HTTP/1.0\r\n\r\n'),opts=b'\x01\x01\x94\x04\x00\x00\x00\x00')
pk['udp4_dns']=ip4(C,V,17,udp(C,V,5353,53,b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01'))
pk['udp4_nocsum']=ip4(C,V,17,udp(C,V,5000,53,b'hello',nocsum=True))
pk['sctp4_init']=ip4(C,V,132,sctp(5000,3868,struct.pack('!BBHIIHHI',1,0,20,0x01020304,0x10000,10,10,0x0a0b0c0d)))
ce=struct.pack('!BBH',10,0,5)+b'\xaa\0\0\0'+struct.pack('!BBH',6,0,4)
pk['sctp4_cookie_abort']=ip4(C,V,132,sctp(5000,3868,ce))
inner=ip4(R,C,6,tcp(R,C,80,43210,0x12))[:28]
icmp=struct.pack('!BBHI',3,4,0,1400)+inner
icmp=icmp[:2]+struct.pack('!H',csum(icmp))+icmp[4:]
pk['icmp4_frag_needed_from_client']=ip4([203,0,113,1],R,1,icmp)
inner=ip4(C,V,6,tcp(C,V,43210,80,0x02))[:28]
icmp=struct.pack('!BBHI',3,3,0,0)+inner
icmp=icmp[:2]+struct.pack('!H',csum(icmp))+icmp[4:]
pk['icmp4_port_unreach_to_client']=ip4(V,C,1,icmp)
echo=struct.pack('!BBHHH',8,0,0,0x1234,1)+b'ping'
echo=echo[:2]+struct.pack('!H',csum(echo))+echo[4:]
pk['icmp4_echo']=ip4(C,V,1,echo)
pk['tcp6_syn']=ip6(C6,V6,6,tcp(C6,V6,43210,443,0x02,v6=True))
hbh=struct.pack('!BB',60,0)+b'\x01\x04\0\0\0\0'
dst=struct.pack('!BB',6,0)+b'\x01\x04\0\0\0\0'
pk['tcp6_hbh_dst']=ip6(C6,V6,0,tcp(C6,V6,43210,443,0x10,b'x',v6=True),ext=hbh+dst)
u=udp(C6,V6,5353,53,b'abc',v6=True)
frag=struct.pack('!BBHI',17,0,0x0001,0xabcdef01)  # first fragment, M=1
pk['udp6_frag_first']=ip6(C6,V6,44,u,ext=frag)
frag=struct.pack('!BBHI',17,0,(64<<3)|0,0xabcdef01)
pk['udp6_frag_nonfirst']=ip6(C6,V6,44,b'\x00'*16,ext=frag)
inner=ip6(R6,C6,17,udp(R6,C6,53,5353,b'abc',v6=True))
msg=struct.pack('!BBHI',1,4,0,0)+inner
msg=msg[:2]+struct.pack('!H',csum(pseudo6(C6,R6,58,len(msg))+msg))+msg[4:]
pk['icmp6_port_unreach']=ip6(C6,R6,58,msg)
pk['sctp6_data']=ip6(C6,V6,132,sctp(5000,3868,struct.pack('!BBHIHHI',0,3,20,1,0,0,51)+b'abcd'))
out=sys.argv[1]
os.makedirs(out+'/seeds',exist_ok=True)
with open(out+'/fixtures.rs','w') as f:
    for k,v in pk.items():
        f.write('/// Generated: %s.\npub const %s: &[u8] = &[%s];\n'%(k,k.upper(),', '.join('0x%02x'%x for x in v)))
        open(out+'/seeds/'+k,'wb').write(bytes(18)+v)
        open(out+'/seeds/'+k+'_raw','wb').write(v)
print(len(pk))
