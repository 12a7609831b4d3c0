import hashlib, json, struct, re
def canon(o):
    t=json.dumps(o, sort_keys=True, separators=(',',':'), ensure_ascii=True)
    t=re.sub(r'\\u([0-9a-f]{4})', lambda m: '\\u'+m.group(1).upper(), t)
    return t.replace('\\u007F','\x7f')
def lp(s):
    b=s.encode(); return struct.pack('>I',len(b))+b
def rowhash(seq,at,actor,action,ot,oid,data,prev):
    m=b'kura-audit-v1\x00'+struct.pack('>Q',seq)+struct.pack('>q',at)+lp(actor)+lp(action)+lp(ot)+lp(oid)+lp(data)+bytes.fromhex(prev)
    return hashlib.sha256(m).hexdigest()
rows=[(1700000000,'us_alice','transfer.created','transfer','tr_1',{"snapshot":{"amount":1000,"state":"awaiting_approval"},"note":"a,b \"q\" caf\u00e9"}),
      (1700000060,'system','signin.failed','user','o"1',{}),
      (1700000120,'us_bob','transfer.approved','transfer','tr_1',{"snapshot":{"amount":1000,"state":"approved"}})]
prev='0'*64; out=[]
for i,(at,a,ac,ot,oid,d) in enumerate(rows):
    seq=i+1; data=canon(d); h=rowhash(seq,at,a,ac,ot,oid,data,prev)
    out.append(dict(seq=seq,at=at,actor=a,action=ac,object_type=ot,object_id=oid,data=data,prev_hash=prev,hash=h)); prev=h
head=(3,prev)
jl=''
for r in out[:2]:
    o=dict(r); o['data']=json.loads(r['data']); jl+=canon(o)+'\n'
tr={"trailer":{"from":1700000000,"to":1700000100,"head_hash":head[1],"head_seq":3,"rows":2}}
jl+=canon(tr)+'\n'
def csvf(s):
    s=str(s)
    if any(c in s for c in ',"\r\n'): return '"'+s.replace('"','""')+'"'
    return s
cols=['seq','at','actor','action','object_type','object_id','data','prev_hash','hash']
csv=','.join(cols)+'\r\n'
for r in out[:2]: csv+=','.join(csvf(r[c]) for c in cols)+'\r\n'
csv+=','.join(csvf(x) for x in ['trailer','','','','','',canon(tr['trailer']),'3',head[1]])+'\r\n'
def cstr(s):
    return '\n'.join('    "'+l.replace('\\','\\\\').replace('"','\\"').replace('\r','\\r').replace('\n','\\n')+'"' for l in s.splitlines(True))
print("static const char fixture_jsonl[] =\n"+cstr(jl)+";\n")
print("static const char fixture_csv[] =\n"+cstr(csv)+";\n")
print("/* head */", head)
